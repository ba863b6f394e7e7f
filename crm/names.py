"""Realistic synthetic people and companies for `trubka seed` and the demo."""

from __future__ import annotations

import random

RU_MALE = (
    "Александр Алексей Андрей Антон Артём Борис Вадим Валерий Василий Виктор Владимир Вячеслав Геннадий "
    "Георгий Григорий Дмитрий Евгений Егор Иван Игорь Илья Кирилл Константин Леонид Максим Михаил Никита "
    "Николай Олег Павел Пётр Роман Руслан Сергей Станислав Степан Тимур Фёдор Юрий Ярослав"
).split()
RU_FEMALE = (
    "Алёна Алина Алла Анастасия Анна Валентина Валерия Вера Виктория Галина Дарья Евгения Екатерина Елена "
    "Елизавета Жанна Зоя Инна Ирина Карина Ксения Лариса Любовь Людмила Маргарита Марина Мария Надежда "
    "Наталья Нина Оксана Ольга Полина Светлана Софья Тамара Татьяна Ульяна Юлия Яна"
).split()
RU_SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков Алексеев "
    "Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин Захаров Зайцев "
    "Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв "
    "Гусев Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков "
    "Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов "
    "Крылов Куликов Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев "
    "Фомин Чернов Абрамов Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов "
    "Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв "
    "Овчинников Трофимов Леонов Соболев Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов Гришин "
    "Ефремов Архипов Громов Кириллов Малышев Панов Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов Анисимов "
    "Ерёмин Тихомиров Галкин Лукьянов Михеев Скворцов Юдин Белоусов Нестеров Симонов Прокофьев Харитонов "
    "Князев Цветков Левин Митрофанов Воронов Аксёнов Софронов Мальцев Логинов Горшков Савин Краснов Майоров "
    "Демидов Елисеев Рыбаков Сафонов Плотников Демин Хохлов Жданов Руднев Рыжов Шестаков Миронов Субботин"
).split()
EN_FIRST = (
    "James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia Jennifer Linda "
    "Elizabeth Barbara Susan Jessica Sarah Karen Emma Olivia Oliver George Harry Jack Amelia Sophie Lucy Daniel"
).split()
EN_LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Wilson Anderson Taylor Thomas Moore Jackson "
    "Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker "
    "O'Brien O'Connor McDonald"
).split()
COMPANY_WORDS = (
    "Альфа Бета Вектор Гранит Дельта Эталон Заря Импульс Кристалл Лидер Меридиан Новатор Орион Прогресс "
    "Ресурс Сигма Технолог Уран Феникс Целина Эксперт Юпитер Ямал Атлант Восток Север Юг Запад Байкал Волга "
    "Каскад Логистик Монолит Стандарт Транзит Форпост Гарант Профи Строй Снаб Торг Сервис Пром Инвест"
).split()
COMPANY_FORMS = ("ООО", "АО", "ПАО", "ИП", "ЗАО")
EN_COMPANY_WORDS = "Acme Globex Initech Umbrella Stark Wayne Northwind Contoso Fabrikam Tailspin Litware Adatum".split()
TAGS = ("VIP", "опт", "розница", "партнёр", "новый", "постоянный", "должник", "холодный", "тендер", "b2b")


def female_surname(surname: str) -> str:
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    if surname.endswith("ий"):
        return surname[:-2] + "ая"
    return surname


def person(rng: random.Random) -> str:
    """A full name: mostly Russian (surname first name), some English."""
    if rng.random() < 0.8:
        surname = rng.choice(RU_SURNAMES)
        if rng.random() < 0.5:
            return f"{rng.choice(RU_MALE)} {surname}"
        return f"{rng.choice(RU_FEMALE)} {female_surname(surname)}"
    return f"{rng.choice(EN_FIRST)} {rng.choice(EN_LAST)}"


def company(rng: random.Random, index: int) -> str:
    if rng.random() < 0.85:
        words = rng.sample(COMPANY_WORDS, 2)
        return f"{rng.choice(COMPANY_FORMS)} «{words[0]}-{words[1]}» {index}" if index else f"{rng.choice(COMPANY_FORMS)} «{words[0]}-{words[1]}»"
    word = rng.choice(EN_COMPANY_WORDS)
    return f"{word} {rng.choice(('Ltd', 'LLC', 'Inc', 'GmbH'))} {index}" if index else f"{word} Ltd"


def email_for(name: str, rng: random.Random, index: int) -> str:
    table = str.maketrans(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "abvgdeejziiklmnoprstufhccss_y_eua",
    )
    local = name.casefold().translate(table).replace(" ", ".").replace("'", "").replace("_", "")
    return f"{local}{index}@{rng.choice(('mail.ru', 'yandex.ru', 'gmail.com', 'example.com'))}"
